/* A shared object that is not a pktd driver. */
int not_a_driver(void) { return 42; }
