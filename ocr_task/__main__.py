import sys

from ocr_task.cli import main

sys.exit(main())
