import { strict as assert } from "assert";
import {
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isDnsHostName,
} from "../common/dnsNames";

describe("Kubernetes name formats", () => {
  it("DNS-1035 labels start with a letter; DNS-1123 labels may start with a digit", () => {
    assert.equal(isDns1035Label("hello-1"), true);
    assert.equal(isDns1035Label("1hello"), false);
    assert.equal(isDns1123Label("1hello"), true);
    for (const check of [isDns1035Label, isDns1123Label]) {
      assert.equal(check("a".repeat(63)), true);
      assert.equal(check("a".repeat(64)), false);
      assert.equal(check("Hello"), false);
      assert.equal(check("hello-"), false);
      assert.equal(check("a.b"), false);
    }
  });

  it("an object name may be a 253-character subdomain; a host name also needs labels of 63", () => {
    const longLabel = `${"a".repeat(64)}.example.com`;
    assert.equal(isDns1123Subdomain(longLabel), true, "apimachinery checks only the whole name");
    assert.equal(isDnsHostName(longLabel), false);
    assert.equal(isDnsHostName("hooks.example.com"), true);
    assert.equal(isDns1123Subdomain(`${"a.".repeat(126)}a`), true, "253 characters");
    assert.equal(isDns1123Subdomain(`${"a.".repeat(126)}ab`), false, "254 characters");
    for (const bad of ["", "Example.com", "-a.com", "a..b", "https://a.com"]) {
      assert.equal(isDns1123Subdomain(bad), false, bad);
      assert.equal(isDnsHostName(bad), false, bad);
    }
  });
});
