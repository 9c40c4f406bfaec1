import { describe, expect, it } from "vitest";
import { findLinks, refusedLinks } from "../../src/drafting/links.ts";

/** What an attacker tries next to get a link past the allowlist, and prose that must pass. */

const allow = ["shop.example"];
const refused = (text: string, knowledge = "") => refusedLinks(text, allow, knowledge);

describe("links in a reply", () => {
  it.each([
    [
      "a bare domain, no path",
      "Log in at evil-shop-login.com to confirm.",
      "link not allowed: evil-shop-login.com",
    ],
    ["a bare domain with a path", "Track it at track-parcel.net/login", "link not allowed: track-parcel.net"],
    ["ftp", "Your invoice: ftp://evil.test/invoice.exe", "link not allowed: ftp: links are never sent"],
    [
      "javascript: in markdown",
      "[Track your parcel](javascript:alert(1))",
      "link not allowed: javascript: links are never sent",
    ],
    ["data: URL", "Open data:text/html;base64,PHNjcmlwdD4=", "link not allowed: data: links are never sent"],
    ["an ideographic full stop", "Go to evil。test/login", "link not allowed: evil.test"],
    ["a fullwidth dot", "Go to evil．com now", "link not allowed: evil.com"],
    ["fullwidth letters", "Visit ｅｖｉｌ.com", "link not allowed: evil.com"],
    ["userinfo that names the shop", "https://shop.example@evil.test/account", "link not allowed: evil.test"],
    [
      "the shop as a subdomain",
      "https://shop.example.evil.test/",
      "link not allowed: shop.example.evil.test",
    ],
    [
      "a look-alike letter (Cyrillic о)",
      "Sign in at https://shоp.example/login",
      "link not allowed: xn--shp-",
    ],
    ["protocol-relative", "See //evil.test/reset", "link not allowed: evil.test"],
    ["an HTML link", '<a href="http://evil.test/pay">pay here</a>', "link not allowed: evil.test"],
    ["backslashes", "https:\\\\evil.test\\pay", "link not allowed: evil.test"],
    ["an IP address with a path", "Download from 203.0.113.9/setup", "link not allowed: 203.0.113.9"],
    ["www.", "www.evil.co.uk has the form", "link not allowed: www.evil.co.uk"],
    ["mailto:", "Write to mailto:refunds@evil.test", "link not allowed: mailto: links are never sent"],
  ])("refuses %s", (_, text, flag) => {
    expect(refused(text).some((r) => r.startsWith(flag))).toBe(true);
  });

  it.each([
    ["an allowed host", "Track it at https://shop.example/orders/48213"],
    ["an allowed subdomain", "See help.shop.example/returns"],
    [
      "a link from the cited article",
      "Read https://help.partner.test/returns",
      "https://help.partner.test/returns",
    ],
    ["an email address", "Email us at help@mail.evil-shop.com or jane.doe@gmail.com"],
    ["version numbers and section numbers", "Version 2.0 of the app is out; see section 3.2/4 of the guide."],
    ["abbreviations and file-like words", "Use Node.js, e.g. with index.html, then retry."],
    ["prices and dates", "It costs $19.99 until 12.05.2026."],
    ["colons in prose", "Note: your order ships today. Status:shipped"],
    ["other languages", "Le colis est parti aujourd'hui. ¡Gracias! Danke für Ihre Geduld."],
  ])("leaves alone %s", (_, text, knowledge = "") => {
    expect(refused(text, knowledge)).toEqual([]);
  });

  it("finds each link once, with its real host", () => {
    expect(findLinks("[x](https://a.shop.example/p) and evil.com").map((l) => l.host)).toEqual([
      "a.shop.example",
      "evil.com",
    ]);
  });
});
