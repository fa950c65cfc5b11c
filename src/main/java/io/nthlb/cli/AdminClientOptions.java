package io.nthlb.cli;

import io.nthlb.admin.AdminAddress;
import io.nthlb.admin.AdminClient;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** The {@code --admin} option of {@code nthlb list}, {@code save} and {@code reload}, as a picocli mixin. */
public final class AdminClientOptions {

    @Option(names = "--admin", paramLabel = "HOST:PORT", defaultValue = AdminAddress.DEFAULT,
            converter = AddressConverter.class,
            description = "the admin endpoint of the running nthlb (default: ${DEFAULT-VALUE})")
    AdminAddress address;

    public AdminClient client() {
        return new AdminClient(address);
    }

    /** Parses {@code --admin}, so a bad address is a usage error that quotes it. */
    static final class AddressConverter implements CommandLine.ITypeConverter<AdminAddress> {
        @Override
        public AdminAddress convert(String value) {
            try {
                return AdminAddress.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
