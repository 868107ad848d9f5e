from medflow.cli import main

main()
