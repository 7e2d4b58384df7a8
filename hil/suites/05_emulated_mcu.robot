*** Settings ***
Documentation     Time and sensors of the emulated MCU, measured in Renode's virtual time: what
...               only the real firmware on the real chip's model can get wrong (the SysTick, TIM1
...               and TIM2 clocks, the independent watchdog, the ADC path of the temperature). The
...               sim models none of it: `make hil` leaves them out (tag renode-only).
Resource          ../resources/deployer.resource
Suite Setup       Prepare The Target Suite
Suite Teardown    Finish The Target Suite
Test Setup        Power On The Emulated Deployer
Test Teardown     Power Off The Deployer
Test Tags         renode-only


*** Variables ***
${TIMED_BURN_MAX}     1000    # ms
${LOOP_MARGIN}        20      # ms the loop ends a burn before BURN_MAX (firmware/sequencer.py _MARGIN)
# The loop times a burn from its iteration's tick, taken before the actuator turns on (the
# slot's state is saved first), and looks at it once per iteration (at most TICK_MS apart).
${LOOP_TICK}          10      # ms: firmware/app.py TICK_MS
${LOOP_SLACK}         5       # ms of loop work on top of that tick
${TIMER_SLACK}        1       # ms: TIM1 counts 0.2 ms ticks, its pulse starts a tick after the burn and Renode's counter overflows a tick early
${LOOP_END_EARLIEST}  ${{ ${TIMED_BURN_MAX} - ${LOOP_MARGIN} - ${LOOP_TICK} }}
${LOOP_END_LATEST}    ${{ ${TIMED_BURN_MAX} - ${LOOP_MARGIN} + ${LOOP_TICK} + ${LOOP_SLACK} }}
${TIMER_END_EARLIEST}  ${{ ${TIMED_BURN_MAX} - ${TIMER_SLACK} }}
${TIMER_END_LATEST}   ${{ ${TIMED_BURN_MAX} + ${TIMER_SLACK} }}
${FIRE_DELAY}         3 s     # from now to the time tag of the FIRE being timed
${FIRE_TIMEOUT}       8 s     # FIRE_DELAY plus a margin for the link and the loop
# MicroPython computes (sample - TS_CAL1) / ((TS_CAL2 - TS_CAL1) / 80) + 30 degC: blank words
# and a zero sample give 0 / 0, the NaN an uncalibrated chip reads.
${BLANK_WORD}         0
${ZERO_SAMPLE}        0


*** Test Cases ***
Should End A Burn At BURN_MAX Of Virtual Time
    [Documentation]    ticks_ms keeps virtual time (SysTick at the 168 MHz MicroPython programs it for):
    ...                the loop ends a stuck slot's burn at BURN_MAX - margin, give or take a loop tick
    ...                (with SysTick at 72 MHz it lasted 7/3 as long).
    Set Parameter    BURN_MAX    ${TIMED_BURN_MAX}
    Stick The Switch Of Slot 1
    Schedule A FIRE Of Slot 1 In ${FIRE_DELAY}
    The Burn Of Slot 1 Should Start Within ${FIRE_TIMEOUT}
    The Burn Of Slot 1 Should End Between ${LOOP_END_EARLIEST} And ${LOOP_END_LATEST} ms
    Event Should Be Reported    BURN_END    slot=1    why=1    timeout=${EVENT_TIMEOUT}

Should Cut A Burn At BURN_MAX By The Hardware Timer When The Application Stops
    [Documentation]    TIM1's one pulse on the actuator pin (168 MHz, prescaled to 5 kHz) ends at
    ...                BURN_MAX with no loop running, TIM2's interrupt (84 MHz, 5 kHz) cutting then
    ...                too; then the watchdog, fed no more, resets the MCU into SAFE.
    Set Parameter    BURN_MAX    ${TIMED_BURN_MAX}
    Stick The Switch Of Slot 1
    Schedule A FIRE Of Slot 1 In ${FIRE_DELAY}
    The Burn Of Slot 1 Should Start Within ${FIRE_TIMEOUT}
    Stop The Application From The REPL
    The Burn Of Slot 1 Should End Between ${TIMER_END_EARLIEST} And ${TIMER_END_LATEST} ms
    REPL Should Show    KeyboardInterrupt
    Event Should Be Reported    BOOT    timeout=${BOOT_TIMEOUT}
    Event Should Be Reported    SLOT_RESOLVED    slot=1    state=STOWED    timeout=${EVENT_TIMEOUT}
    Nothing Should Burn

Should Report A Temperature It Cannot Read As Invalid And Keep Working
    [Documentation]    Blank calibration words (as in Renode's rom1 before deployer.resc writes them):
    ...                MicroPython's reading is NaN; the board reports the sentinel and one event,
    ...                and the loop goes on.
    Housekeeping Should Show    temperature=${LAB_TEMPERATURE}
    Set The Temperature Sensor    ${BLANK_WORD}    ${BLANK_WORD}    ${ZERO_SAMPLE}
    Event Should Be Reported    SENSOR_INVALID    timeout=${EVENT_TIMEOUT}
    Housekeeping Should Show    temperature=INVALID
    Command Should Succeed    PING


*** Keywords ***
Schedule A FIRE Of Slot ${slot} In ${delay}
    [Documentation]    ARM, then a time-tagged FIRE: the burn starts while the test waits for it.
    Correlate On Board Time
    ${days}    ${ms}=    On Board Time In    ${delay}
    Command Should Succeed    SCHED_ENABLE
    Arm The Deployer
    Command Should Succeed    SCHED_INSERT    ${days}    ${ms}    FIRE    ${slot}
