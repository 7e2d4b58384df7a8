*** Settings ***
Documentation     With a key in use, only the operator's signed commands run: a stranger on the
...               line can neither arm nor fire, nor replay the operator's commands; ABORT needs
...               no signature, so key trouble never blocks an emergency.
Resource          ../resources/deployer.resource
Suite Setup       Prepare The Target Suite
Suite Teardown    Finish The Target Suite
Test Setup        Power On The Deployer With The Operator Key
Test Teardown     Power Off The Deployer


*** Test Cases ***
Should Refuse Unsigned, Forged, Altered, Truncated And Replayed Commands And Run Signed Ones
    Tampered Command Should Be Refused    unsigned     ARM    reason=AUTH_MISSING
    Tampered Command Should Be Refused    forged       ARM    reason=AUTH_MAC
    Tampered Command Should Be Refused    altered      FIRE    1    reason=AUTH_MAC
    Tampered Command Should Be Refused    truncated    ARM    reason=AUTH_TRUNCATED
    Nothing Should Burn
    Housekeeping Should Show    auth_rejected=4
    Arm The Deployer
    Release Slot    1
    Tampered Command Should Be Refused    replayed     FIRE    1    reason=DUPLICATE
    Slot 1 Should Not Burn Again Within ${HOLD_TIME}
    Arm The Deployer
    Tampered Command Should Be Refused    unsigned     FIRE    2    reason=AUTH_MISSING
    Tampered Command Should Be Refused    replayed     ARM    reason=DUPLICATE
    Command Should Succeed Unsigned    ABORT
    Nothing Should Burn
