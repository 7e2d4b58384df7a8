# ruff: noqa: F821
# pyright: reportUndefinedVariable=false
# micropython-lib style manifest: freeze the application into a board image with
#   make BOARD=NUCLEO_F429ZI FROZEN_MANIFEST=/path/to/firmware/manifest.py
# The files are those of ground.build.package_sources (tests/test_build.py checks it).
metadata(description="Lunar lander payload controller: satellite deployment", version="0.1.0")

package(
    "firmware",
    files=(
        "__init__.py", "app.py", "auth.py", "board_nucleo.py", "clock.py", "framing.py", "hk.py", "packet.py",
        "params.py", "schedule.py", "sequencer.py", "services.py", "state.py", "store.py",
        "switches.py", "tables.py", "telemetry.py", "verification.py",
    ),
    base_path="..",
)
module("main.py")
