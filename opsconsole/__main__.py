import sys

from opsconsole.cli.main import main

sys.exit(main())
