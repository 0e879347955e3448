from rulesgen.cli import main

raise SystemExit(main())
