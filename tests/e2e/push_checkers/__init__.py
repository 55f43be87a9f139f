"""Local stand-ins for APNs and FCM that check what the real services check."""
