*** Settings ***
Documentation     Commanded releases happen, one slot at a time, confirmed by the switches.
Resource          ../resources/deployer.resource
Suite Setup       Prepare The Target Suite
Suite Teardown    Finish The Target Suite
Test Setup        Power On The Deployer
Test Teardown     Power Off The Deployer


*** Variables ***
${RELEASE_DELAY}      3 s     # from now to the time tag of a scheduled FIRE
${SCHEDULE_TIMEOUT}   8 s     # RELEASE_DELAY plus a margin for the link and the loop


*** Test Cases ***
Should Release All Four Slots In Turn
    Arm The Deployer
    FOR    ${slot}    IN RANGE    1    5
        Release Slot    ${slot}
    END
    Housekeeping Should Show    slot1=RELEASED    slot2=RELEASED    slot3=RELEASED    slot4=RELEASED

Should Release A Slot At Its Scheduled Time
    Correlate On Board Time
    Command Should Succeed    SCHED_ENABLE
    Arm The Deployer
    Slot 2 Should Be STOWED
    # The time tag last, so the release cannot come while the steps before it write the flash
    ${days}    ${ms}=    On Board Time In    ${RELEASE_DELAY}
    Command Should Succeed    SCHED_INSERT    ${days}    ${ms}    FIRE    2
    Event Should Be Reported    SCHEDULE_RELEASED    timeout=${SCHEDULE_TIMEOUT}
    Actuator Of Slot 2 Should Burn
    Event Should Be Reported    RELEASED    slot=2    timeout=${EVENT_TIMEOUT}
    Slot 2 Should Be RELEASED
