*** Settings ***
Documentation     A switch that lies, an abort and a reset mid-burn end SAFE, never in a second burn.
Resource          ../resources/deployer.resource
Suite Setup       Prepare The Target Suite
Suite Teardown    Finish The Target Suite
Test Setup        Power On The Deployer
Test Teardown     Power Off The Deployer


*** Variables ***
${LAST_ATTEMPT}       3       # 1 + RETRIES burns
${STUCK_SLOT}         3
# HK "attempts" as every tool shows it, slot:burns: the stuck slot burned ${LAST_ATTEMPT} times.
${STUCK_ATTEMPTS}     1:0,2:0,3:3,4:0
${FAIL_TIMEOUT}       10 s    # 3 burns of BURN_MAX and 2 cool-downs, with a margin
# ms: a burn that lasts while the test aborts or resets it; a burn after the reset
# would still be on when the "not again" hold starts, so the hold catches it too.
${LONG_BURN_MAX}      5000
${PINGS}              20      # more commands than the payload remembers request ids of (14)
${RELEASE_DELAY}      3 s     # from now to the time tag of a scheduled command
${SCHEDULE_HOLD}      6 s     # RELEASE_DELAY plus a margin for the link and the loop


*** Test Cases ***
Should Mark A Slot FAILED After Its Retries When Its Switch Is Stuck
    Stick The Switch Of Slot ${STUCK_SLOT}
    Arm The Deployer
    ${fire}=    Fire Slot    ${STUCK_SLOT}
    Event Should Be Reported    SLOT_FAILED    slot=${STUCK_SLOT}    attempt=${LAST_ATTEMPT}    timeout=${FAIL_TIMEOUT}
    Command Should Fail    ${fire}    NOT_CONFIRMED
    Slot ${STUCK_SLOT} Should Be FAILED
    Housekeeping Should Show    attempts=${STUCK_ATTEMPTS}
    Command Should Be Refused    FIRE    ${STUCK_SLOT}    reason=SLOT_NOT_STOWED

Should Cut The Burn At Once On Abort
    Set Parameter    BURN_MAX    ${LONG_BURN_MAX}
    Stick The Switch Of Slot 1
    Arm The Deployer
    ${fire}=    Fire Slot    1
    Command Should Succeed    ABORT
    Event Should Be Reported    BURN_END    slot=1    why=ABORT    timeout=${EVENT_TIMEOUT}
    Event Should Be Reported    ABORTED    timeout=${EVENT_TIMEOUT}
    Command Should Fail    ${fire}    ABORTED
    Nothing Should Burn
    Slot 1 Should Be STOWED

Should Refuse A Copy Of A FIRE That Ran Nested In The Schedule And Never Burn Its Slot Again
    [Documentation]    Issue 11: a request id runs at most once on every path, the schedule's too.
    Set Parameter    BURN_MAX    ${LONG_BURN_MAX}
    Stick The Switch Of Slot 3
    Arm The Deployer
    ${fire}=    Fire Slot    3
    Command Should Succeed    ABORT
    Command Should Fail    ${fire}    ABORTED
    FOR    ${i}    IN RANGE    ${PINGS}
        Command Should Succeed    PING
    END
    Correlate On Board Time
    ${days}    ${ms}=    On Board Time In    ${RELEASE_DELAY}
    Arm The Deployer
    Command Should Be Refused    SCHED_INSERT    ${days}    ${ms}    ${fire.command}    reason=STALE
    Slot 3 Should Not Burn Again Within ${SCHEDULE_HOLD}
    Slot 3 Should Be STOWED

Should Come Back SAFE After A Reset Mid-Burn And Never Burn Again By Itself
    Set Parameter    BURN_MAX    ${LONG_BURN_MAX}
    Stick The Switch Of Slot 2
    Arm The Deployer
    Fire Slot    2
    Reset The Board
    Event Should Be Reported    BOOT    timeout=${BOOT_TIMEOUT}
    ${unknown}=     Event Should Be Reported    SLOT_UNKNOWN     slot=2    timeout=${EVENT_TIMEOUT}
    ${resolved}=    Event Should Be Reported    SLOT_RESOLVED    slot=2    state=STOWED    timeout=${EVENT_TIMEOUT}
    Should Be True    ${unknown} < ${resolved}    SLOT_UNKNOWN should come before SLOT_RESOLVED
    Slot 2 Should Not Burn Again Within ${HOLD_TIME}
    Nothing Should Burn
    Slot 2 Should Be STOWED
