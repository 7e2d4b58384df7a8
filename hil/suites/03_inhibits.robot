*** Settings ***
Documentation     Every inhibit, missing, stops a release and says why; no current flows.
Resource          ../resources/deployer.resource
Suite Setup       Prepare The Target Suite
Suite Teardown    Finish The Target Suite
Test Setup        Power On The Deployer
Test Teardown     Power Off The Deployer


*** Variables ***
${WINDOW_TIMEOUT}     8 s     # SHORT_ARM_WINDOW plus a margin


*** Test Cases ***
Should Refuse To Arm Or Fire With The RBF Plug In
    Insert The RBF Plug
    Command Should Be Refused    ARM     reason=RBF_INSERTED
    Command Should Be Refused    FIRE    1    reason=RBF_INSERTED
    Nothing Should Burn
    Slot 1 Should Be STOWED

Should Refuse To Arm Or Fire Without The Lander Permit
    Withdraw The Lander Permit
    Command Should Be Refused    ARM     reason=NO_PERMIT
    Command Should Be Refused    FIRE    1    reason=NO_PERMIT
    Nothing Should Burn
    Slot 1 Should Be STOWED

Should Refuse To Fire When Not Armed
    Command Should Be Refused    FIRE    1    reason=NOT_ARMED
    Nothing Should Burn
    Slot 1 Should Be STOWED

Should Refuse To Fire After The Arm Window Expired
    Set Parameter    ARM_WINDOW    ${SHORT_ARM_WINDOW}
    Arm The Deployer
    Event Should Be Reported    DISARMED    reason=ARM_WINDOW_EXPIRED    timeout=${WINDOW_TIMEOUT}
    Command Should Be Refused    FIRE    1    reason=ARM_WINDOW_EXPIRED
    Nothing Should Burn
    Slot 1 Should Be STOWED

Should Disarm When The Lander Withdraws Its Permit While Armed
    Arm The Deployer
    Withdraw The Lander Permit
    Event Should Be Reported    ARM_LOST    reason=NO_PERMIT    timeout=${EVENT_TIMEOUT}
    Nothing Should Burn
