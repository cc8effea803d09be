from meterstream_sink.main import main

main()
