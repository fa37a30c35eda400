from pmrecon.cli import main

main()
