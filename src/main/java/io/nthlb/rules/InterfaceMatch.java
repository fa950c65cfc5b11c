package io.nthlb.rules;

/**
 * An {@code -i} or {@code -o} option. nthlb cannot see which interface a connection came in on, so at
 * run time every interface match is treated as matching; it is kept so that the table prints as written.
 */
public record InterfaceMatch(String name, boolean inverted) {
}
