from mirrorbench.cli import main

if __name__ == "__main__":  # the latency producer is a spawned process that imports this module
    main()
