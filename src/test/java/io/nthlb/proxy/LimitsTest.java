package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.management.UnixOperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class LimitsTest {

    @Test
    void theDefaultLimitLeavesTwoDescriptorsPerConnectionAfterWhatIsOpenAndTheMargin() {
        // HAProxy derives 141 from 300 descriptors; nthlb keeps more back, for the JVM's own files.
        assertThat(Limits.fromDescriptorLimit(300, 40)).isEqualTo((300 - 40 - Limits.DESCRIPTOR_MARGIN) / 2);
        assertThat(Limits.fromDescriptorLimit(20_000, 100)).isEqualTo(9_918);
        assertThat(Limits.fromDescriptorLimit(50, 40)).as("never below one").isEqualTo(1);
        assertThat(Limits.fromDescriptorLimit(Long.MAX_VALUE, 40)).isEqualTo(Integer.MAX_VALUE);
    }

    @Test
    void theDefaultLimitFollowsThisProcesssDescriptorLimit() throws Exception {
        UnixOperatingSystemMXBean os = (UnixOperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        // The descriptors open now move a little as other threads work: the JVM's own figures bound them.
        assertThat(Limits.fromDescriptorLimit()).isBetween(
                Limits.fromDescriptorLimit(os.getMaxFileDescriptorCount(), os.getOpenFileDescriptorCount() + 20),
                Limits.fromDescriptorLimit(os.getMaxFileDescriptorCount(), os.getOpenFileDescriptorCount() - 20));
    }

    @Test
    void sourceAddressesNeedATransportThatCanBindWithoutAPort() throws Exception {
        List<InetAddress> sources = List.of(InetAddress.getByName("127.0.0.2"));
        assertThatThrownBy(() -> ProxyOptions.defaults(Transport.NIO).withSources(sources))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--source needs the epoll or io_uring transport");
        assertThat(ProxyOptions.defaults(Transport.EPOLL).withSources(sources).sources()).isEqualTo(sources);
        assertThat(ProxyOptions.defaults(Transport.IO_URING).withSources(sources).sources()).isEqualTo(sources);
    }

    @Test
    void negativeLimitsAreRefused() {
        assertThatThrownBy(() -> new Limits(-1, 0, 0)).hasMessageContaining("maxConnections: -1");
        assertThatThrownBy(() -> Limits.DEFAULT.withMaxPerClient(-2)).hasMessageContaining("maxPerClient: -2");
    }
}
