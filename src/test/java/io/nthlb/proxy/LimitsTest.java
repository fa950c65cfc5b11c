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
        assertThat(Limits.fromDescriptorLimit(20_000, 100)).isEqualTo(9_886);
        assertThat(Limits.fromDescriptorLimit(50, 40)).as("never below one").isEqualTo(1);
        assertThat(Limits.fromDescriptorLimit(Long.MAX_VALUE, 40)).isEqualTo(Integer.MAX_VALUE);
    }

    @Test
    void theMarginCoversTheAdminEndpointsConnectionsAndAsMuchAgain() {
        assertThat(Limits.DESCRIPTOR_MARGIN).isEqualTo(Limits.ADMIN_CONNECTIONS + 64);
    }

    @Test
    void aTableWithOnlyTcpListenersGivesConnectionsTheWholeRoom() {
        // 4096 descriptors, 1000 open (the JVM's and 900 listening sockets): 2968 left after the margin.
        assertThat(Limits.divide(4096, 1000, 0, 0, true, 0)).isEqualTo(new Limits.Budget(1484, 2968));
        assertThat(Limits.divide(4096, 1000, 0, 0, true, 0).maxConnections())
                .isEqualTo(Limits.fromDescriptorLimit(4096, 1000));
    }

    @Test
    void aTableWithOnlyUdpListenersGivesFlowsTheWholeRoom() {
        assertThat(Limits.divide(4096, 1000, 0, 0, false, 1)).isEqualTo(new Limits.Budget(1484, 2968));
    }

    @Test
    void tcpAndUdpListenersShareTheRoomHalfAndHalf() {
        Limits.Budget budget = Limits.divide(4096, 1000, 0, 0, true, 1);
        assertThat(budget).isEqualTo(new Limits.Budget(742, 1484));
        assertThat(2L * budget.maxConnections() + budget.maxFlows()).isEqualTo(2968);
        Limits.Budget odd = Limits.divide(4097, 1000, 0, 0, true, 1);
        assertThat(2L * odd.maxConnections() + odd.maxFlows()).as("never more than the room").isEqualTo(2969);
    }

    @Test
    void aFigureGivenIsKeptAndTheOtherGetsWhatItLeaves() {
        assertThat(Limits.divide(4096, 1000, 1000, 0, true, 1)).isEqualTo(new Limits.Budget(1000, 968));
        assertThat(Limits.divide(4096, 1000, 0, 968, true, 1)).isEqualTo(new Limits.Budget(1000, 968));
        assertThat(Limits.divide(4096, 1000, 5, 7, true, 1)).as("both given").isEqualTo(new Limits.Budget(5, 7));
        assertThat(Limits.divide(4096, 1000, 0, 500, true, 0)).as("flows given, no UDP listener")
                .isEqualTo(new Limits.Budget(1484, 500));
    }

    @Test
    void aFlowOfAWildcardListenerCountsTwoDescriptors() {
        Limits.Budget budget = Limits.divide(4096, 1000, 0, 0, true, 2);
        assertThat(budget).isEqualTo(new Limits.Budget(742, 742));
        assertThat(Limits.divide(4096, 1000, 0, 0, false, 2).maxFlows()).isEqualTo(1484);
        assertThat(Limits.divide(4096, 1000, 0, 484, true, 2).maxConnections()).isEqualTo(1000);
    }

    @Test
    void whatIsDerivedIsNeverBelowOne() {
        assertThat(Limits.divide(300, 400, 0, 0, true, 1)).isEqualTo(new Limits.Budget(1, 1));
        assertThat(Limits.divide(4096, 1000, 5000, 0, true, 1)).isEqualTo(new Limits.Budget(5000, 1));
        assertThat(Limits.divide(Long.MAX_VALUE, 1000, 0, 0, true, 1))
                .isEqualTo(new Limits.Budget(Integer.MAX_VALUE, Integer.MAX_VALUE));
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
