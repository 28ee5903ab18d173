package loyal

// Every test reads the engine's answers strictly: a key no field takes fails the test.
func init() { strictDecoding = true }
