// Package qr draws QR codes (ISO/IEC 18004): the phone link and the Wi-Fi
// password the phone pages and the CLI show. Byte mode and error
// correction level M only, which is all they need; a general encoder with
// PNG output cost the binary 0.13 MB.
package qr
