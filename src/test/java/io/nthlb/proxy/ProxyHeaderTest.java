package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The PROXY header against HAProxy's proxy-protocol.txt: the specification's own examples byte for byte, Netty's
 * independent codec (netty-codec-haproxy) as a second reader and writer, and a parser that no input can make
 * throw or read past a header.
 */
class ProxyHeaderTest {

    private static final InetSocketAddress SPEC_SOURCE = address("192.168.0.1", 56324);
    private static final InetSocketAddress SPEC_DESTINATION = address("192.168.0.11", 443);

    @Test
    void encodesTheSpecificationsVersion1Example() {
        // Section 2.1: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", then the request.
        assertThat(ProxyHeader.encode(ProxyHeader.Version.V1, SPEC_SOURCE, SPEC_DESTINATION))
                .asString(StandardCharsets.US_ASCII).isEqualTo("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    }

    @Test
    void encodesTheSpecificationsLongestVersion1Lines() {
        // Section 2.1's worst cases: 56 bytes for TCP4, 104 for TCP6.
        byte[] tcp4 = ProxyHeader.encode(ProxyHeader.Version.V1, address("255.255.255.255", 65535),
                address("255.255.255.255", 65535));
        assertThat(tcp4).asString(StandardCharsets.US_ASCII)
                .isEqualTo("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n").hasSize(56);
        String ones = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        byte[] tcp6 = ProxyHeader.encode(ProxyHeader.Version.V1, address(ones, 65535), address(ones, 65535));
        assertThat(tcp6).asString(StandardCharsets.US_ASCII)
                .isEqualTo("PROXY TCP6 " + ones + " " + ones + " 65535 65535\r\n").hasSize(104);
    }

    @Test
    void encodesVersion2ForIpv4AsSection22LaysItOut() {
        // Signature, 0x21 (version 2, PROXY), 0x11 (AF_INET, STREAM), length 12, addresses, ports; all big-endian.
        assertThat(hex(ProxyHeader.encode(ProxyHeader.Version.V2, SPEC_SOURCE, SPEC_DESTINATION)))
                .isEqualTo("0d0a0d0a000d0a515549540a" + "21" + "11" + "000c"
                        + "c0a80001" + "c0a8000b" + "dc04" + "01bb");
    }

    @Test
    void encodesVersion2ForIpv6AsSection22LaysItOut() {
        byte[] header = ProxyHeader.encode(ProxyHeader.Version.V2, address("2001:db8::1", 40000),
                address("2001:db8::200", 80));
        assertThat(hex(header)).isEqualTo("0d0a0d0a000d0a515549540a" + "21" + "21" + "0024"
                + "20010db8000000000000000000000001" + "20010db8000000000000000000000200" + "9c40" + "0050");
    }

    @Test
    void sendsAnIpv4ClientOnAnIpv6SocketAsIpv4() {
        // io_uring accepts on [::]: its IPv4 clients come as IPv4-mapped addresses.
        byte[] header = ProxyHeader.encode(ProxyHeader.Version.V1, address("::ffff:10.0.1.10", 40000),
                address("::ffff:10.0.1.200", 80));
        assertThat(header).asString(StandardCharsets.US_ASCII).isEqualTo("PROXY TCP4 10.0.1.10 10.0.1.200 40000 80\r\n");
    }

    @ParameterizedTest
    @EnumSource(ProxyHeader.Version.class)
    void nettysDecoderReadsWhatNthlbSends(ProxyHeader.Version version) {
        for (String[] pair : new String[][] {{"10.0.1.10", "10.0.1.200"}, {"2001:db8::1", "2001:db8::200"}}) {
            byte[] header = ProxyHeader.encode(version, address(pair[0], 40000), address(pair[1], 80));
            EmbeddedChannel channel = new EmbeddedChannel(new HAProxyMessageDecoder());
            channel.writeInbound(Unpooled.wrappedBuffer(header, "GET /".getBytes(StandardCharsets.US_ASCII)));
            HAProxyMessage m = channel.readInbound();
            try {
                assertThat(m.protocolVersion()).isEqualTo(version == ProxyHeader.Version.V1
                        ? HAProxyProtocolVersion.V1 : HAProxyProtocolVersion.V2);
                assertThat(m.command()).isEqualTo(HAProxyCommand.PROXY);
                assertThat(m.proxiedProtocol()).isEqualTo(pair[0].contains(":")
                        ? HAProxyProxiedProtocol.TCP6 : HAProxyProxiedProtocol.TCP4);
                assertThat(InetAddress.getByName(m.sourceAddress())).isEqualTo(InetAddress.getByName(pair[0]));
                assertThat(InetAddress.getByName(m.destinationAddress())).isEqualTo(InetAddress.getByName(pair[1]));
                assertThat(m.sourcePort()).isEqualTo(40000);
                assertThat(m.destinationPort()).isEqualTo(80);
            } catch (java.net.UnknownHostException e) {
                throw new AssertionError(e);
            } finally {
                m.release();
            }
            ByteBuf payload = channel.readInbound();
            assertThat(payload.toString(StandardCharsets.US_ASCII)).isEqualTo("GET /");
            payload.release();
            channel.finishAndReleaseAll();
        }
    }

    @Test
    void readsWhatNettysEncoderSendsSkippingTlvs() {
        HAProxyMessage message = new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.PROXY,
                HAProxyProxiedProtocol.TCP4, "10.0.1.10", "10.0.1.200", 40000, 80,
                List.of(new HAProxyTLV((byte) 0x04, Unpooled.wrappedBuffer(new byte[] {1, 2, 3})),
                        new HAProxyTLV(HAProxyTLV.Type.PP2_TYPE_AUTHORITY,
                                Unpooled.copiedBuffer("example.com", StandardCharsets.US_ASCII))));
        ByteBuf encoded = encodeWithNetty(message);
        int length = encoded.readableBytes();
        encoded.writeBytes("payload".getBytes(StandardCharsets.US_ASCII));
        assertThat(ProxyHeader.parse(encoded)).isEqualTo(new ProxyHeader.Header(length,
                address("10.0.1.10", 40000), address("10.0.1.200", 80)));
        encoded.release();
    }

    @Test
    void readsVersion2LocalAsNoAddresses() {
        // The upstream balancer's own health check: LOCAL, family UNSPEC, no address block.
        ByteBuf encoded = encodeWithNetty(new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.LOCAL,
                HAProxyProxiedProtocol.UNKNOWN, null, null, 0, 0));
        assertThat(ProxyHeader.parse(encoded)).isEqualTo(new ProxyHeader.Header(16, null, null));
        encoded.release();
    }

    @Test
    void readsTheSpecificationsVersion1Examples() {
        assertThat(parse("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"))
                .isEqualTo(new ProxyHeader.Header(47, SPEC_SOURCE, SPEC_DESTINATION));
        assertThat(parse("PROXY UNKNOWN\r\n")).isEqualTo(new ProxyHeader.Header(15, null, null));
        // "the receiver must ignore anything presented before the CRLF is found" after UNKNOWN.
        assertThat(parse("PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\nxyz"))
                .isEqualTo(new ProxyHeader.Header(39, null, null));
        assertThat(parse("PROXY TCP6 2001:db8::1 2001:db8::200 40000 80\r\n"))
                .isEqualTo(new ProxyHeader.Header(47, address("2001:db8::1", 40000), address("2001:db8::200", 80)));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "GET / HTTP/1.1\r\n\r\n",
        "PROXY  TCP4 10.0.0.1 10.0.0.2 1 2\r\n",
        "PROXY TCP4 10.0.0.1 10.0.0.2 1 2 3\r\n",
        "PROXY TCP4 10.0.0.1 10.0.0.2 1 65536\r\n",
        "PROXY TCP4 10.0.0.1 10.0.0.2 1 0443\r\n",
        "PROXY TCP4 10.0.0.1 10.0.0.2 -1 443\r\n",
        "PROXY TCP4 localhost 10.0.0.2 1 443\r\n",
        "PROXY TCP4 2001:db8::1 10.0.0.2 1 443\r\n",
        "PROXY TCP6 10.0.0.1 2001:db8::2 1 443\r\n",
        "PROXY TCP6 fe80::1%eth0 2001:db8::2 1 443\r\n",
        "PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n",
        "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\n",
        "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\r\n",
        "PROXY\r\n",
    })
    void rejectsMalformedVersion1Lines(String line) {
        assertThat(parse(line)).isInstanceOf(ProxyHeader.Malformed.class);
    }

    @Test
    void rejectsAVersion1LineLongerThanTheSpecificationAllows() {
        String noEnd = "PROXY TCP6 " + "f".repeat(ProxyHeader.V1_MAX);
        assertThat(parse(noEnd.substring(0, ProxyHeader.V1_MAX - 1))).isEqualTo(new ProxyHeader.Incomplete(ProxyHeader.V1_MAX));
        assertThat(parse(noEnd.substring(0, ProxyHeader.V1_MAX))).isInstanceOf(ProxyHeader.Malformed.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "0d0a0d0a000d0a515549540a" + "31" + "11" + "000c" + "0a000001" + "0a000002" + "0001" + "0002",
        "0d0a0d0a000d0a515549540a" + "22" + "11" + "000c" + "0a000001" + "0a000002" + "0001" + "0002",
        "0d0a0d0a000d0a515549540a" + "21" + "12" + "000c" + "0a000001" + "0a000002" + "0001" + "0002",
        "0d0a0d0a000d0a515549540a" + "21" + "11" + "0008" + "0a000001" + "0a000002",
        "0d0a0d0a000d0a515549540a" + "21" + "21" + "000c" + "0a000001" + "0a000002" + "0001" + "0002",
        "0d0a0d0a000d0a515549540a" + "21" + "41" + "0000",
        "0d0a0d0a000d0a5155495400",
    })
    void rejectsMalformedVersion2Headers(String hex) {
        assertThat(ProxyHeader.parse(Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hex))))
                .isInstanceOf(ProxyHeader.Malformed.class);
    }

    @Property
    void everyProperPrefixOfAHeaderAsksForMoreAndNeverPastAVersion2Header(@ForAll("headers") byte[] header) {
        for (int n = 0; n < header.length; n++) {
            ProxyHeader.Parse p = ProxyHeader.parse(Unpooled.wrappedBuffer(Arrays.copyOf(header, n)));
            assertThat(p).isInstanceOf(ProxyHeader.Incomplete.class);
            int readUpTo = ((ProxyHeader.Incomplete) p).readUpTo();
            assertThat(readUpTo).isGreaterThan(n);
            if (header[0] == ProxyHeader.V2_SIGNATURE[0]) {
                assertThat(readUpTo).isLessThanOrEqualTo(header.length);
            } else {
                assertThat(readUpTo).isLessThanOrEqualTo(ProxyHeader.V1_MAX);
            }
        }
    }

    @Property
    void whatIsEncodedParsesBackToTheSameAddresses(@ForAll("endpoints") InetSocketAddress source,
                                                   @ForAll("endpoints") InetSocketAddress destination,
                                                   @ForAll ProxyHeader.Version version,
                                                   @ForAll @Size(max = 40) byte[] payload) {
        boolean v4 = source.getAddress() instanceof java.net.Inet4Address
                && destination.getAddress() instanceof java.net.Inet4Address;
        if (!v4 && (source.getAddress() instanceof java.net.Inet4Address
                || destination.getAddress() instanceof java.net.Inet4Address)) {
            return; // mixed families are sent IPv4-mapped: covered by sendsAnIpv4ClientOnAnIpv6SocketAsIpv4
        }
        byte[] header = ProxyHeader.encode(version, source, destination);
        ByteBuf in = Unpooled.wrappedBuffer(header, payload);
        assertThat(ProxyHeader.parse(in)).isEqualTo(new ProxyHeader.Header(header.length, source, destination));
    }

    @Property(tries = 3000)
    void noInputMakesTheParserThrowOrClaimMoreThanItHas(@ForAll("noise") byte[] input) {
        ProxyHeader.Parse p = ProxyHeader.parse(Unpooled.wrappedBuffer(input));
        if (p instanceof ProxyHeader.Header h) {
            assertThat(h.length()).isBetween(15, input.length);
        } else if (p instanceof ProxyHeader.Incomplete i) {
            assertThat(i.readUpTo()).isGreaterThan(input.length);
        }
    }

    @Provide
    Arbitrary<byte[]> headers() {
        return Combinators.combine(endpoints(), endpoints(), Arbitraries.of(ProxyHeader.Version.class))
                .as((s, d, v) -> ProxyHeader.encode(v, s, d));
    }

    @Provide
    Arbitrary<InetSocketAddress> endpoints() {
        Arbitrary<byte[]> v4 = Arbitraries.bytes().array(byte[].class).ofSize(4);
        Arbitrary<byte[]> v6 = Arbitraries.bytes().array(byte[].class).ofSize(16)
                .filter(b -> !(b[10] == (byte) 0xff && b[11] == (byte) 0xff && Arrays.equals(b, 0, 10, new byte[10], 0, 10)));
        return Combinators.combine(Arbitraries.oneOf(v4, v6), Arbitraries.integers().between(0, 65535))
                .as((b, port) -> {
                    try {
                        return new InetSocketAddress(InetAddress.getByAddress(b), port);
                    } catch (java.net.UnknownHostException e) {
                        throw new AssertionError(e);
                    }
                });
    }

    /** Random bytes, and random bytes behind each signature, and valid headers with bytes flipped. */
    @Provide
    Arbitrary<byte[]> noise() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
        Arbitrary<byte[]> afterV1 = random.map(b -> concat("PROXY ".getBytes(StandardCharsets.US_ASCII), b));
        Arbitrary<byte[]> afterV2 = random.map(b -> concat(ProxyHeader.V2_SIGNATURE, b));
        Arbitrary<byte[]> flipped = Combinators.combine(headers(), Arbitraries.integers().between(0, 200),
                Arbitraries.bytes()).as((h, at, b) -> {
                    byte[] copy = h.clone();
                    copy[at % copy.length] = b;
                    return copy;
                });
        return Arbitraries.oneOf(random, afterV1, afterV2, flipped);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static ByteBuf encodeWithNetty(HAProxyMessage message) {
        EmbeddedChannel channel = new EmbeddedChannel(HAProxyMessageEncoder.INSTANCE);
        channel.writeOutbound(message);
        ByteBuf out = channel.readOutbound();
        channel.finishAndReleaseAll();
        return out;
    }

    private static ProxyHeader.Parse parse(String s) {
        return ProxyHeader.parse(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
    }

    private static String hex(byte[] b) {
        return ByteBufUtil.hexDump(b);
    }

    static InetSocketAddress address(String numeric, int port) {
        try {
            return new InetSocketAddress(InetAddress.getByName(numeric), port);
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
