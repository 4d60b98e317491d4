from noss_eval.cli import main

raise SystemExit(main())
