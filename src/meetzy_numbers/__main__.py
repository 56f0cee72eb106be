from meetzy_numbers.cli import main

main()
