"""Run the CLI with a stack dump of every thread each N seconds (a 10-s sampling profile)."""
import faulthandler
import runpy
import sys

out = open(sys.argv[1], "w")
faulthandler.dump_traceback_later(float(sys.argv[2]), repeat=True, file=out)
sys.argv = ["lorarecycle", *sys.argv[3:]]
runpy.run_module("lorarecycle.cli.main", run_name="__main__")
