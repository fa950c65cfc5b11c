package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.Cidr;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.PortRange;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DestinationRewriteTest {

    /**
     * What Linux 6.18 chose, recorded in a private network namespace: addresses 10.9.0.1-24 and the VIPs on
     * {@code lo}, {@code iptables -t nat -A OUTPUT -d 10.9.1.1 -p tcp --dport 80 -j DNAT --to-destination
     * 10.9.2.1-10.9.2.5} (and the same for 10.9.1.2 with {@code --persistent}), then one connection from each
     * source address, reading the backend from the accepted socket's local address. OUTPUT and PREROUTING
     * share {@code find_best_ips_proto}. Each list gives the last octet chosen for sources 10.9.0.1 to 24.
     */
    private static final String KERNEL_CHOICES_VIP1 = "3 1 4 3 5 2 3 4 5 3 5 3 4 4 5 2 2 3 2 3 3 1 5 2";
    private static final String KERNEL_CHOICES_VIP2_PERSISTENT = "1 2 1 1 1 5 4 5 5 2 1 4 4 5 4 3 2 5 1 5 2 3 5 3";

    private static String choices(String vip, boolean persistent) {
        List<String> octets = new ArrayList<>();
        for (int i = 1; i <= 24; i++) {
            int chosen = DestinationRewrite.kernelAddress(ip("10.9.0." + i), ip(vip), ip("10.9.2.1"), ip("10.9.2.5"),
                    persistent);
            octets.add(String.valueOf(chosen & 0xFF));
        }
        return String.join(" ", octets);
    }

    @Test
    void addressRangeChoiceMatchesTheKernel() {
        assertThat(choices("10.9.1.1", false)).isEqualTo(KERNEL_CHOICES_VIP1);
    }

    @Test
    void persistentAddressRangeChoiceMatchesTheKernel() {
        assertThat(choices("10.9.1.2", true)).isEqualTo(KERNEL_CHOICES_VIP2_PERSISTENT);
    }

    @Test
    void persistentChoiceDoesNotDependOnTheOriginalDestination() {
        assertThat(choices("10.9.1.7", true)).isEqualTo(KERNEL_CHOICES_VIP2_PERSISTENT);
        assertThat(choices("10.9.1.7", false)).isNotEqualTo(KERNEL_CHOICES_VIP1);
    }

    @Test
    void choiceStaysInsideARangeThatCrossesAnOctet() {
        for (int i = 0; i < 1000; i++) {
            int chosen = DestinationRewrite.kernelAddress(ip("192.168.0.0") + i, ip("10.0.0.1"), ip("10.0.0.250"),
                    ip("10.0.1.4"), false);
            assertThat(Integer.compareUnsigned(chosen, ip("10.0.0.250"))).as(Cidr.formatAddress(chosen)).isNotNegative();
            assertThat(Integer.compareUnsigned(chosen, ip("10.0.1.4"))).as(Cidr.formatAddress(chosen)).isNotPositive();
        }
    }

    @Test
    void sameClientAlwaysGetsTheSameAddress() {
        DestinationRewrite rewrite = DestinationRewrite.of(
                new DnatTarget(ip("10.9.2.1"), ip("10.9.2.5"), null, false, false));
        RandomSource random = RandomSource.seeded(3);
        var first = rewrite.rewrite(ip("10.9.0.1"), ip("10.9.1.1"), 80, random);
        for (int port = 0; port < 10; port++) {
            assertThat(rewrite.rewrite(ip("10.9.0.1"), ip("10.9.1.1"), 80, random)).isEqualTo(first);
        }
        assertThat(first.getAddress().getHostAddress()).isEqualTo("10.9.2.3");
        assertThat(first.getPort()).isEqualTo(80);
    }

    @Test
    void portRangeWithoutRandomKeepsAPortInsideAndTakesTheFirstOutside() {
        // Also observed on 6.18: --to-destination 10.9.2.1:8080-8090 sent 8080, 8085, 8090 to themselves and 80
        // (eight times) to 8080.
        DestinationRewrite rewrite = DestinationRewrite.of(
                new DnatTarget(ip("10.9.2.1"), ip("10.9.2.1"), new PortRange(8080, 8090), false, false));
        RandomSource random = RandomSource.seeded(3);
        assertThat(rewrite.rewrite(1, 2, 8080, random).getPort()).isEqualTo(8080);
        assertThat(rewrite.rewrite(1, 2, 8085, random).getPort()).isEqualTo(8085);
        assertThat(rewrite.rewrite(1, 2, 8090, random).getPort()).isEqualTo(8090);
        assertThat(rewrite.rewrite(1, 2, 80, random).getPort()).isEqualTo(8080);
        assertThat(rewrite.rewrite(1, 2, 8091, random).getPort()).isEqualTo(8080);
    }

    @Test
    void singleAddressAndPortIsTheSameObjectEveryTime() {
        DestinationRewrite rewrite = DestinationRewrite.of(
                new DnatTarget(ip("10.9.2.1"), ip("10.9.2.1"), PortRange.of(80), false, false));
        RandomSource random = RandomSource.seeded(3);
        assertThat(rewrite.rewrite(1, 2, 81, random)).isSameAs(rewrite.rewrite(5, 6, 82, random));
    }

    @Test
    void jhash2MatchesTheKernelForAKnownKey() {
        // The words of the first recorded case: source 10.9.0.1 and destination 10.9.1.1 as in memory on x86.
        int j = DestinationRewrite.jhash2FirstWordOfFour(Integer.reverseBytes(ip("10.9.0.1")),
                Integer.reverseBytes(ip("10.9.1.1")));
        // reciprocal_scale(j, 5) == 2 gives 10.9.2.3, the kernel's choice for that source.
        assertThat((int) (((j & 0xFFFFFFFFL) * 5) >>> 32)).isEqualTo(2);
    }
}
