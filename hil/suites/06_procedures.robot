*** Settings ***
Documentation     The procedures operators fly (procedures/*.proc), flown on the target as
...               `ground proc run --yes` flies them, on the link or through a ground server:
...               what operators fly is what CI tests. Each run must read back from the archive
...               entry for entry.
Resource          ../resources/deployer.resource
Suite Setup       Prepare The Target Suite
Suite Teardown    Finish The Target Suite
Test Setup        Power On The Deployer As Delivered
Test Teardown     Power Off The Deployer


*** Variables ***
${SPACING}        1       # s between two releases (the flight default, 10, only makes the run longer)
${STUCK_SLOT}     3


*** Test Cases ***
Should Pass The Checkout On A Board As Delivered
    Procedure Should Pass    checkout.proc

Should Release One Slot By The Procedure And Leave The Others Stowed
    Procedure Should Pass    deploy-one.proc    SLOT=2
    Housekeeping Should Show    slot1=STOWED    slot2=RELEASED    slot3=STOWED    slot4=STOWED
    Nothing Should Burn

Should Release One Slot By The Procedure Flown Through A Ground Server
    Connect To The Deployer Through A Ground Server    timeout=${BOOT_TIMEOUT}
    Procedure Should Pass    deploy-one.proc    SLOT=4
    Housekeeping Should Show    slot1=STOWED    slot2=STOWED    slot3=STOWED    slot4=RELEASED
    Nothing Should Burn

Should Release Every Slot By The Procedure, Each After Its Go
    Procedure Should Pass    deploy-all.proc    SPACING=${SPACING}
    Housekeeping Should Show    slot1=RELEASED    slot2=RELEASED    slot3=RELEASED    slot4=RELEASED
    Nothing Should Burn

Should Stop A Release Its Switch Does Not Confirm, Make Safe, And Diagnose It By The Contingency
    Use Short Timings
    Stick The Switch Of Slot ${STUCK_SLOT}
    Procedure Should Stop    deploy-one.proc    SLOT=${STUCK_SLOT}    status=FAILED    reason=NOT_CONFIRMED
    Nothing Should Burn
    Procedure Should Pass    contingency-stuck-switch.proc    SLOT=${STUCK_SLOT}
    Slot ${STUCK_SLOT} Should Be FAILED
    Nothing Should Burn
