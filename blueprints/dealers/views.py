"""Owner pages (保守を任せる販売店様の管理), becoming a dealer, and the dealer console."""
