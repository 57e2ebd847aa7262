from reprobox.cli import main

main()
