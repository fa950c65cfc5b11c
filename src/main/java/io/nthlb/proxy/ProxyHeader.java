package io.nthlb.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that carries a connection's
 * original client and destination to the next hop: {@link #encode} writes the one nthlb sends with
 * {@code --send-proxy}, {@link #parse} reads the one {@code --accept-proxy} expects. Both relays use these,
 * the epoll one on raw memory and the Netty-channel one on buffers, so both speak the protocol the same way.
 */
public final class ProxyHeader {

    /** The version sent: the human-readable line or the binary block. */
    public enum Version {
        V1("v1"), V2("v2");

        private final String label;

        Version(String label) {
            this.label = label;
        }

        /** The word users type after {@code --send-proxy}. */
        public String label() {
            return label;
        }

        /** The version for a word typed by a user: {@code v1} or {@code v2}. */
        public static Version forLabel(String label) {
            for (Version v : values()) {
                if (v.label.equalsIgnoreCase(label)) {
                    return v;
                }
            }
            throw new IllegalArgumentException("PROXY protocol version: " + label + " (expected: v1 or v2)");
        }

        @Override
        public String toString() {
            return label;
        }
    }

    /** The twelve bytes every version 2 header starts with. */
    static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final byte[] V1_PREFIX = "PROXY ".getBytes(StandardCharsets.US_ASCII);
    /** The longest version 1 line the specification allows, CRLF included. */
    static final int V1_MAX = 107;
    private static final int V2_FIXED = 16;
    private static final int V2_VERSION_PROXY = 0x21;
    private static final int V2_VERSION_LOCAL = 0x20;
    private static final int TCP4 = 0x11;
    private static final int TCP6 = 0x21;

    private ProxyHeader() {
    }

    /**
     * The header announcing a connection from {@code source} to {@code destination}. Addresses of different
     * families (an IPv4 client on a listener bound as {@code [::]}) are sent as IPv6, IPv4-mapped; an
     * IPv4-mapped pair is sent as IPv4.
     */
    public static byte[] encode(Version version, InetSocketAddress source, InetSocketAddress destination) {
        InetAddress src = unmapped(source.getAddress());
        InetAddress dst = unmapped(destination.getAddress());
        boolean v4 = src instanceof Inet4Address && dst instanceof Inet4Address;
        byte[] s = v4 ? src.getAddress() : v6Bytes(src);
        byte[] d = v4 ? dst.getAddress() : v6Bytes(dst);
        if (version == Version.V1) {
            String line = "PROXY " + (v4 ? "TCP4 " : "TCP6 ") + text(s) + ' ' + text(d) + ' '
                    + source.getPort() + ' ' + destination.getPort() + "\r\n";
            return line.getBytes(StandardCharsets.US_ASCII);
        }
        ByteBuffer b = ByteBuffer.allocate(V2_FIXED + 2 * s.length + 4);
        b.put(V2_SIGNATURE).put((byte) V2_VERSION_PROXY).put((byte) (v4 ? TCP4 : TCP6))
                .putShort((short) (2 * s.length + 4)).put(s).put(d)
                .putShort((short) source.getPort()).putShort((short) destination.getPort());
        return b.array();
    }

    private static InetAddress unmapped(InetAddress a) {
        if (a instanceof Inet6Address) {
            byte[] b = a.getAddress();
            boolean mapped = b[10] == (byte) 0xff && b[11] == (byte) 0xff;
            for (int i = 0; i < 10 && mapped; i++) {
                mapped = b[i] == 0;
            }
            if (mapped) {
                return byAddress(new byte[] {b[12], b[13], b[14], b[15]});
            }
        }
        return a;
    }

    private static byte[] v6Bytes(InetAddress a) {
        if (a instanceof Inet6Address) {
            return a.getAddress();
        }
        byte[] b = new byte[16];
        b[10] = (byte) 0xff;
        b[11] = (byte) 0xff;
        System.arraycopy(a.getAddress(), 0, b, 12, 4);
        return b;
    }

    private static String text(byte[] address) {
        // Netty's form for IPv6 is RFC 5952's compressed one, which is what HAProxy prints too.
        return address.length == 4 ? NetUtil.bytesToIpAddress(address) : NetUtil.toAddressString(byAddress(address));
    }

    private static InetAddress byAddress(byte[] b) {
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e); // only for a length other than 4 or 16, which cannot happen here
        }
    }

    /** What {@link #parse} found in the bytes received so far. */
    public sealed interface Parse permits Incomplete, Malformed, Header {
    }

    /**
     * Not enough bytes yet: read until there are {@code readUpTo} in all. It never asks for a byte past a
     * version 2 header; a version 1 line's end is known only once seen, so reading up to {@link #V1_MAX} may
     * take bytes of the payload, which the caller keeps and relays.
     */
    public record Incomplete(int readUpTo) implements Parse {
    }

    /** Not a valid header; {@code reason} says what was wrong, for the debug log. */
    public record Malformed(String reason) implements Parse {
    }

    /**
     * A complete header of {@code length} bytes. {@code source} and {@code destination} are {@code null} when
     * it carries no addresses to use (version 2 {@code LOCAL}, version 1 {@code UNKNOWN}, version 2 for an
     * unspecified or UNIX family): the connection's own addresses stand.
     */
    public record Header(int length, InetSocketAddress source, InetSocketAddress destination) implements Parse {
    }

    /**
     * Reads the header at the start of {@code in}'s readable bytes, without moving its indexes. Never throws on
     * any input: whatever is not a header is {@link Malformed}.
     */
    public static Parse parse(ByteBuf in) {
        int at = in.readerIndex();
        int have = in.readableBytes();
        if (have == 0) {
            return new Incomplete(V2_FIXED); // a version 1 header is never shorter than 16 bytes either
        }
        if (in.getByte(at) == V2_SIGNATURE[0]) {
            return parseV2(in, at, have);
        }
        if (!startsWith(in, at, have, V1_PREFIX)) {
            return new Malformed("neither a version 1 nor a version 2 header");
        }
        return parseV1(in, at, have);
    }

    private static boolean startsWith(ByteBuf in, int at, int have, byte[] prefix) {
        for (int i = 0; i < Math.min(have, prefix.length); i++) {
            if (in.getByte(at + i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static Parse parseV1(ByteBuf in, int at, int have) {
        int end = -1;
        for (int i = 1; i < Math.min(have, V1_MAX); i++) {
            if (in.getByte(at + i) == '\n') {
                end = i;
                break;
            }
        }
        if (end < 0) {
            return have >= V1_MAX ? new Malformed("version 1 line longer than " + V1_MAX + " bytes")
                    : new Incomplete(V1_MAX);
        }
        if (in.getByte(at + end - 1) != '\r') {
            return new Malformed("version 1 line not ended by CRLF");
        }
        String line = in.toString(at, end - 1, StandardCharsets.US_ASCII);
        String[] f = line.split(" ", -1);
        int length = end + 1;
        if (f.length >= 2 && f[1].equals("UNKNOWN")) {
            // The specification lets the rest of an UNKNOWN line be anything: the receiver ignores it.
            return new Header(length, null, null);
        }
        if (f.length != 6) {
            return new Malformed("version 1 line with " + f.length + " fields: " + printable(line));
        }
        boolean v4 = f[1].equals("TCP4");
        if (!v4 && !f[1].equals("TCP6")) {
            return new Malformed("version 1 protocol " + printable(f[1]) + " (expected: TCP4, TCP6 or UNKNOWN)");
        }
        InetAddress src = v1Address(f[2], v4);
        InetAddress dst = v1Address(f[3], v4);
        int sport = v1Port(f[4]);
        int dport = v1Port(f[5]);
        if (src == null || dst == null || sport < 0 || dport < 0) {
            return new Malformed("version 1 addresses or ports not valid for " + f[1] + ": " + printable(line));
        }
        return new Header(length, new InetSocketAddress(src, sport), new InetSocketAddress(dst, dport));
    }

    private static InetAddress v1Address(String s, boolean v4) {
        // Numeric only, checked before conversion: a name here must never become a DNS lookup.
        if (v4 ? !NetUtil.isValidIpV4Address(s) : !NetUtil.isValidIpV6Address(s) || s.contains("%")) {
            return null;
        }
        byte[] b = NetUtil.createByteArrayFromIpAddressString(s);
        return b == null ? null : byAddress(b);
    }

    private static int v1Port(String s) {
        if (s.isEmpty() || s.length() > 5 || (s.length() > 1 && s.charAt(0) == '0')) {
            return -1;
        }
        int port = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            port = port * 10 + (c - '0');
        }
        return port <= 65535 ? port : -1;
    }

    private static Parse parseV2(ByteBuf in, int at, int have) {
        if (!startsWith(in, at, have, V2_SIGNATURE)) {
            return new Malformed("not the version 2 signature");
        }
        if (have < V2_FIXED) {
            return new Incomplete(V2_FIXED);
        }
        int versionCommand = in.getUnsignedByte(at + 12);
        int family = in.getUnsignedByte(at + 13);
        int length = V2_FIXED + in.getUnsignedShort(at + 14);
        if (versionCommand != V2_VERSION_PROXY && versionCommand != V2_VERSION_LOCAL) {
            return new Malformed(String.format("version 2 version and command byte 0x%02x", versionCommand));
        }
        if (have < length) {
            return new Incomplete(length);
        }
        if (versionCommand == V2_VERSION_LOCAL) {
            // The upstream balancer's own connection (its health check): decided as the connection it is.
            return new Header(length, null, null);
        }
        int addresses = length - V2_FIXED;
        switch (family) {
            case TCP4:
                if (addresses < 12) {
                    return new Malformed("version 2 TCP4 block of " + addresses + " bytes (expected: >= 12)");
                }
                return v2Header(in, at + V2_FIXED, 4, length);
            case TCP6:
                if (addresses < 36) {
                    return new Malformed("version 2 TCP6 block of " + addresses + " bytes (expected: >= 36)");
                }
                return v2Header(in, at + V2_FIXED, 16, length);
            case 0x00: // UNSPEC: the sender does not know the addresses
            case 0x31: // UNIX stream: no IP addresses to match rules with
                return new Header(length, null, null);
            default:
                return new Malformed(String.format("version 2 family and protocol byte 0x%02x"
                        + " (expected: a TCP or unspecified stream)", family));
        }
    }

    private static Header v2Header(ByteBuf in, int block, int size, int length) {
        byte[] s = new byte[size];
        byte[] d = new byte[size];
        in.getBytes(block, s);
        in.getBytes(block + size, d);
        int sport = in.getUnsignedShort(block + 2 * size);
        int dport = in.getUnsignedShort(block + 2 * size + 2);
        // TLVs after the addresses (up to length) are skipped: nothing in them changes the decision.
        return new Header(length, new InetSocketAddress(byAddress(s), sport), new InetSocketAddress(byAddress(d), dport));
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length() && i < V1_MAX; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return '"' + b.toString() + '"';
    }
}
