package io.nthlb.cli;

import io.nthlb.nat.ListenAddress;
import io.nthlb.rules.Cidr;
import java.net.InetSocketAddress;
import picocli.CommandLine;

/**
 * An IPv4 address with an optional port, as given on the command line ({@code 10.0.1.200:80},
 * {@code 192.0.2.1}).
 *
 * @param address the address as a big-endian int, like {@link io.nthlb.rules.Cidr}
 * @param port    the port, or -1 when none was given
 */
record Endpoint(int address, int port) {

    /** Parses {@code A.B.C.D[:PORT]}; the message names what was expected. */
    static Endpoint parse(String text) {
        int colon = text.indexOf(':');
        String host = colon < 0 ? text : text.substring(0, colon);
        String[] octets = host.split("\\.", -1);
        if (octets.length != 4) {
            throw new IllegalArgumentException(text + " (expected: IPv4 address, A.B.C.D[:PORT])");
        }
        int address = 0;
        for (String octet : octets) {
            int value = number(octet, 255, text);
            address = address << 8 | value;
        }
        int port = colon < 0 ? -1 : number(text.substring(colon + 1), 65535, text);
        return new Endpoint(address, port);
    }

    private static int number(String digits, int max, String text) {
        if (digits.isEmpty() || digits.length() > 5 || !digits.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException(text + " (expected: A.B.C.D[:PORT] with decimal numbers)");
        }
        int value = Integer.parseInt(digits);
        if (value > max) {
            throw new IllegalArgumentException(text + " (expected: " + (max == 255 ? "octets" : "port") + " 0-" + max + ")");
        }
        return value;
    }

    /** The address and port as a socket address; the port must have been given. */
    InetSocketAddress toSocketAddress() {
        return new ListenAddress(address, port).toSocketAddress();
    }

    /** {@code A.B.C.D[:PORT]}, as it was given. */
    String text() {
        String host = Cidr.formatAddress(address);
        return port < 0 ? host : host + ":" + port;
    }

    /** Lets picocli turn an option's text into an endpoint, reporting a bad one as a usage error. */
    static final class Converter implements CommandLine.ITypeConverter<Endpoint> {
        @Override
        public Endpoint convert(String value) {
            try {
                return parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
