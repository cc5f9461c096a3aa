from failoverdemo.cli import main

main()
