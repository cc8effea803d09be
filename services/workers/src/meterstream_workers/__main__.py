from meterstream_workers.main import main

main()
