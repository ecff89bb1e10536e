from featurestore.cli import main

main()
