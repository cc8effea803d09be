from meterstream_gateway.main import main

main()
