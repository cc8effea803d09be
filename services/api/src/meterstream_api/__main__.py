from meterstream_api.main import main

main()
