#!/bin/bash
# Monthly revenue per region, written to reports/monthly_revenue.csv next to this script.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p reports
sqlite3 -header -csv sales.db "
SELECT strftime('%Y-%m', ordered_at) AS month,
       region,
       COUNT(*) AS order_count,
       printf('%.2f', SUM(amount)) AS revenue
FROM shop_orders
GROUP BY month, region
ORDER BY month, region;" > reports/monthly_revenue.csv
echo "wrote $(pwd)/reports/monthly_revenue.csv"
