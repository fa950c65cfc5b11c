package io.nthlb.rules;

import java.util.List;

/**
 * One {@code -A} rule of the nat table, normalised: the fixed options, the {@code -m} matches in the order
 * written, and the target.
 *
 * @param chain       the chain it belongs to
 * @param source      {@code -s}, {@link AddressMatch#ANY} when absent
 * @param destination {@code -d}, {@link AddressMatch#ANY} when absent
 * @param in          {@code -i}, or {@code null} when absent
 * @param out         {@code -o}, or {@code null} when absent
 * @param protocol    {@code -p}, or {@code null} when absent (any protocol)
 * @param matches     the {@code -m} matches, in the order written
 * @param target      the target, or {@code null} for a rule without {@code -j} (it only counts)
 * @param origin      the file and line it came from
 */
public record Rule(String chain, AddressMatch source, AddressMatch destination, InterfaceMatch in,
                   InterfaceMatch out, ProtocolMatch protocol, List<Match> matches, Target target,
                   Origin origin) {

    public Rule {
        matches = List.copyOf(matches);
    }
}
