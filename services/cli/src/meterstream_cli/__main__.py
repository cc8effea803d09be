from meterstream_cli.app import main

main()
