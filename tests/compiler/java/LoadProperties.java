// Loads .properties files as MirrorMaker 2 does (java.util.Properties.load(InputStream), which
// reads ISO-8859-1) and prints every entry, for tests/compiler/test_properties_java.py.
// stdout: "<file index> <base64 UTF-8 key> <base64 UTF-8 value>" per entry.
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Properties;

public class LoadProperties {
    public static void main(String[] args) throws Exception {
        Base64.Encoder b64 = Base64.getEncoder();
        for (int i = 0; i < args.length; i++) {
            Properties props = new Properties();
            try (InputStream in = new FileInputStream(args[i])) {
                props.load(in);
            }
            for (String key : props.stringPropertyNames()) {
                System.out.println(i + " " + b64.encodeToString(key.getBytes(StandardCharsets.UTF_8)) + " "
                        + b64.encodeToString(props.getProperty(key).getBytes(StandardCharsets.UTF_8)));
            }
        }
    }
}
