package io.nthlb.nat;

import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Where {@code -m statistic --mode random} and {@code DNAT --random} get their random numbers: the
 * kernel's {@code get_random_u32()}, in userspace.
 */
@FunctionalInterface
public interface RandomSource {

    /** 32 random bits. */
    int nextInt();

    /**
     * The source for serving traffic: each event-loop thread draws from its own generator, so there is
     * no shared state to contend on.
     */
    static RandomSource threadLocal() {
        return () -> ThreadLocalRandom.current().nextInt();
    }

    /**
     * A reproducible source for {@code simulate --seed} and tests: the same seed gives the same
     * sequence when one thread decides. It stays correct, if slower, when several threads share it.
     */
    static RandomSource seeded(long seed) {
        Random random = new Random(seed);
        return random::nextInt;
    }
}
