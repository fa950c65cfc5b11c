package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ThrottleTest {

    @Test
    void theFirstOccurrenceIsReportedAndTheRestAreCountedUntilTheIntervalPasses() {
        Throttle throttle = new Throttle(Duration.ofHours(1));
        assertThat(throttle.occurred("a")).isEqualTo(1);
        assertThat(throttle.occurred("a")).isZero();
        assertThat(throttle.occurred("a")).isZero();
        assertThat(throttle.occurred("b")).as("another key has its own interval").isEqualTo(1);
    }

    @Test
    void afterTheIntervalTheReportCountsWhatWasHeldBack() {
        Throttle throttle = new Throttle(Duration.ZERO);
        assertThat(throttle.occurred("a")).isEqualTo(1);
        assertThat(throttle.occurred("a")).isEqualTo(1);
    }
}
