"""Every test reads the engine's answers strictly: a key that no field of a result type takes
fails the test, so that the types cannot fall behind what the engine returns."""

import loyal.types

loyal.types._strict = True
