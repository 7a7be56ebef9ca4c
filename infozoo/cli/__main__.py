from infozoo.cli.main import main

main()
