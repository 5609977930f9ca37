"`python -m scoliosis_xray ...`, and so `torchrun ... -m scoliosis_xray train ...`: the `scoliosis-xray` command."
import sys
from scoliosis_xray.cli import main
if __name__ == '__main__': sys.exit(main())
