import sys

from dynamodbforge.cli import main

sys.exit(main())
