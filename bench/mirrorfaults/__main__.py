from mirrorfaults.cli import main

main()
