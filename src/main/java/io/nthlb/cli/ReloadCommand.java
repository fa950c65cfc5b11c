package io.nthlb.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code nthlb reload}: not built yet; the issue that owns it replaces this class. */
@Command(name = "reload", mixinStandardHelpOptions = true, description = "(not built yet)")
public final class ReloadCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("nthlb reload: not built yet");
        return 1;
    }
}
