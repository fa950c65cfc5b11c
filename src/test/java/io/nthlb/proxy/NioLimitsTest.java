package io.nthlb.proxy;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;

/** The limits suite on the nio transport. */
class NioLimitsTest extends LimitsTestSuite {

    @BeforeAll
    static void transportAvailable() {
        assumeTrue(Transport.NIO.isAvailable(), () -> "nio unavailable: " + Transport.NIO.unavailabilityCause());
    }

    @Override
    Transport transport() {
        return Transport.NIO;
    }
}
