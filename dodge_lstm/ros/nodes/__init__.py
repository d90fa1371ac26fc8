"""One module per ROS node; each has a short `main()` installed as a console script."""
