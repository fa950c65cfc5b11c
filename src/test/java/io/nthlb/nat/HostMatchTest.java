package io.nthlb.nat;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesParser;
import java.util.function.BiPredicate;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code -i}, {@code -o} and {@code -m addrtype} as the kernel evaluates them, with what the host knows. */
class HostMatchTest {
    private static final int CLIENT = ip("198.51.100.7");
    private static final int PUBLIC = ip("203.0.113.5");

    static int ip(String dotted) {
        String[] p = dotted.split("\\.");
        return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8
                | Integer.parseInt(p[3]);
    }

    static NatTable table(String rules) {
        LoadResult r = RulesParser.parse("t.rules", rules);
        assertThat(r.errors()).isEmpty();
        return NatTable.compile(r.ruleset());
    }

    private static String decide(NatTable table, int client, int local, HostNetwork network) {
        Decision d = table.decide(client, 40000, local, 80, network);
        return d.isNat() ? d.destination().getAddress().getHostAddress() : d.verdict();
    }

    /** Interface names as the kernel compares them: whole names, or the part before a final {@code +}. */
    @ParameterizedTest
    @CsvSource({
        "-i docker0, docker0, true", "-i docker0, eth0, false", "-i docker0, '', false",
        "! -i docker0, docker0, false", "! -i docker0, eth0, true", "! -i docker0, '', true",
        "-i veth+, veth12ab, true", "-i veth+, vet, false", "-i veth+, veth, true", "! -i veth+, eth0, true",
        "-i +, eth0, true", "-i +, '', true", "! -i +, eth0, false", "-i docker0, docker01, false"})
    void matchesTheIncomingInterfaceAsTheKernelDoes(String option, String arrivedOn, boolean nat) {
        NatTable table = table("iptables -t nat -A PREROUTING " + option
                + " -p tcp --dport 80 -j DNAT --to-destination 10.9.9.9\n");
        HostNetwork network = HostNetwork.simulated(arrivedOn, PUBLIC, true);
        assertThat(decide(table, CLIENT, PUBLIC, network)).isEqualTo(nat ? "10.9.9.9" : "ACCEPT");
    }

    @Test
    void aConnectionOnAnInterfaceNoRuleNamesFailsDashIAndPassesItsNegation() {
        NatTable table = table("""
                iptables -t nat -A PREROUTING -i docker0 -p tcp --dport 80 -j DNAT --to-destination 10.1.1.1
                iptables -t nat -A PREROUTING ! -i docker0 -p tcp --dport 80 -j DNAT --to-destination 10.2.2.2
                """);
        assertThat(table.decide(CLIENT, 40000, PUBLIC, 80).destination().getAddress().getHostAddress())
                .isEqualTo("10.2.2.2");
    }

    /** PREROUTING has no outgoing interface: the name is empty, which only {@code +} matches. */
    @ParameterizedTest
    @CsvSource({"-o eth0, ACCEPT", "! -o eth0, 10.9.9.9", "-o +, 10.9.9.9", "! -o +, ACCEPT"})
    void anOutgoingInterfaceTestSeesNoInterfaceInPrerouting(String option, String expected) {
        NatTable table = table("""
                iptables -t nat -N X
                iptables -t nat -A PREROUTING -p tcp --dport 80 -j X
                iptables -t nat -A X %s -p tcp -j DNAT --to-destination 10.9.9.9
                """.formatted(option));
        assertThat(decide(table, CLIENT, PUBLIC, HostNetwork.simulated("eth0", PUBLIC, true))).isEqualTo(expected);
    }

    /** Docker's DOCKER chain: the bridge's own traffic returns, everything else is published. */
    @Test
    void dockersChainSendsOutsideTrafficToTheContainerAndBridgeTrafficNowhere() {
        NatTable table = table("""
                iptables -t nat -N DOCKER
                iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
                iptables -t nat -A DOCKER -i docker0 -j RETURN
                iptables -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 80 -j DNAT --to-destination 172.17.0.2:80
                """);
        assertThat(decide(table, CLIENT, PUBLIC, HostNetwork.simulated("eth0", PUBLIC, true))).isEqualTo("172.17.0.2");
        assertThat(decide(table, ip("172.17.0.9"), ip("172.17.0.1"), HostNetwork.simulated("docker0", ip("172.17.0.1"), true)))
                .isEqualTo("ACCEPT");
        assertThat(table.counters("DOCKER", 0).packets()).isEqualTo(1);
        // Not one of the host's addresses: the kernel would forward it, and PREROUTING's first rule does not hold.
        assertThat(decide(table, CLIENT, PUBLIC, HostNetwork.simulated("eth0", PUBLIC, false))).isEqualTo("ACCEPT");
    }

    /** inet_dev_addr_type: zero network and limited broadcast, multicast, the host's own, else unicast. */
    @ParameterizedTest
    @CsvSource({
        "--dst-type LOCAL, 203.0.113.5, true", "--dst-type UNICAST, 203.0.113.5, false",
        "! --dst-type LOCAL, 203.0.113.5, false", "--dst-type LOCAL, 127.0.0.9, true",
        "--src-type UNICAST, 198.51.100.7, true", "--src-type LOCAL, 198.51.100.7, false",
        "--src-type LOCAL, 127.0.0.1, true", "--src-type BROADCAST, 0.1.2.3, true",
        "--src-type BROADCAST, 255.255.255.255, true", "--src-type MULTICAST, 239.1.2.3, true",
        "'--src-type UNICAST,MULTICAST', 239.1.2.3, true", "'! --src-type UNICAST,LOCAL', 239.1.2.3, true",
        "--src-type BROADCAST, 10.0.0.255, true", "--src-type BROADCAST --limit-iface-in, 10.0.0.255, false"})
    void typesAddressesAsTheKernelsLocalTableDoes(String option, String address, boolean holds) {
        String options = option;
        NatTable table = table("iptables -t nat -A PREROUTING -m addrtype " + options
                + " -j DNAT --to-destination 10.9.9.9\n");
        int a = ip(address);
        boolean source = options.contains("--src-type");
        // eth1's broadcast address: not the interface (eth0) the connection came in on.
        HostNetwork host = new Host(addr -> (addr >>> 24) == 127 || addr == PUBLIC, null,
                (addr, device) -> addr == ip("10.0.0.255") && (device == null || device.equals("eth1")));
        String got = decide(table, source ? a : CLIENT, source ? PUBLIC : a, host);
        assertThat(got).isEqualTo(holds ? "10.9.9.9" : "ACCEPT");
    }

    /** run: the host accepted the connection, so its destination is local, whatever the address list says yet. */
    @Test
    void theDestinationIsTypedByWhatTheHostKnowsOfItsOwnConnections() {
        NatTable table = table("iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -p tcp"
                + " -j DNAT --to-destination 10.9.9.9\n");
        HostNetwork acceptedHere = new Host(addr -> false, addr -> true, (addr, device) -> false);
        assertThat(decide(table, CLIENT, PUBLIC, acceptedHere)).isEqualTo("10.9.9.9");
    }

    /**
     * A host whose connections arrive on eth0, with its own addresses and broadcast addresses as given; the
     * destination of a connection is local as {@code destinationLocal} says, or as {@code local} when null.
     */
    private record Host(IntPredicate local, IntPredicate destinationLocal, BiPredicate<Integer, String> broadcast)
            implements HostNetwork {
        @Override
        public String inInterface(int clientIp) {
            return "eth0";
        }

        @Override
        public boolean isLocal(int address, String device) {
            return local.test(address);
        }

        @Override
        public boolean isDestinationLocal(int address, String device) {
            return destinationLocal == null ? local.test(address) : destinationLocal.test(address);
        }

        @Override
        public boolean isBroadcast(int address, String device) {
            return broadcast.test(address, device);
        }
    }
}
