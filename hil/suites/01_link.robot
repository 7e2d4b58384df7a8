*** Settings ***
Documentation     The payload answers on its ground link after boot and shrugs off junk.
Resource          ../resources/deployer.resource
Suite Setup       Prepare The Target Suite
Suite Teardown    Finish The Target Suite
Test Setup        Power On The Deployer
Test Teardown     Power Off The Deployer


*** Test Cases ***
Should Boot SAFE And Answer A Ping
    Command Should Succeed    PING
    Nothing Should Burn
    Housekeeping Should Show    slot1=STOWED    slot2=STOWED    slot3=STOWED    slot4=STOWED
    ...    temperature=${LAB_TEMPERATURE}

Should Drop Garbage Between Commands And Keep Answering
    ${crc_before}=          Housekeeping Field    crc_errors
    ${undecodable_before}=  Housekeeping Field    undecodable
    ${oversize_before}=     Housekeeping Field    oversize
    Send Garbage
    Command Should Succeed    PING
    # One piece of each kind of junk, each dropped and counted once: a bad CRC, a frame
    # too short and raw noise that is not COBS (both undecodable), a frame too long.
    Housekeeping Should Show    crc_errors=${crc_before + 1}    undecodable=${undecodable_before + 2}
    ...    oversize=${oversize_before + 1}
    Arm The Deployer
    Release Slot    1
