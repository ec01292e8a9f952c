-- A demo shop database made by the bot before migrations existed (commit 18a0c4c):
-- shop tables, the 30-article catalog, two orders (the first one e-mailed).
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE shop_orders_status (
	"ID" INTEGER NOT NULL, 
	"Name" VARCHAR(100), 
	PRIMARY KEY ("ID")
);
INSERT INTO shop_orders_status VALUES(1,'новый');
INSERT INTO shop_orders_status VALUES(2,'в обработке');
INSERT INTO shop_orders_status VALUES(3,'отправлен');
INSERT INTO shop_orders_status VALUES(4,'выполнен');
INSERT INTO shop_orders_status VALUES(5,'отменен');
CREATE TABLE shop_orders (
	"ID" INTEGER NOT NULL, 
	"Phone" VARCHAR(32), 
	"Person" VARCHAR(200), 
	"Status" INTEGER, 
	PRIMARY KEY ("ID")
);
INSERT INTO shop_orders VALUES(1,'+79607775577','Иван',4);
INSERT INTO shop_orders VALUES(2,'89161234567','Петрова Анна Сергеевна',4);
INSERT INTO shop_orders VALUES(3,'79998887766','Олег',4);
INSERT INTO shop_orders VALUES(4,'+79607775577','Иван',4);
INSERT INTO shop_orders VALUES(5,'+79260000000','ООО Ромашка',1);
INSERT INTO shop_orders VALUES(6,'79998887766','Олег',4);
INSERT INTO shop_orders VALUES(7,'+79607775577','Иван',3);
INSERT INTO shop_orders VALUES(8,'89161234567','',2);
CREATE TABLE users (
	"Phone" VARCHAR(32), 
	"Name" VARCHAR(200)
);
INSERT INTO users VALUES('+79031112233','Сергей');
INSERT INTO users VALUES('89035556677','мария ивановна');
INSERT INTO users VALUES('+79607775577','Иван Петрович');
CREATE TABLE catalog (
	article VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	unit VARCHAR(32) DEFAULT 'шт' NOT NULL, 
	PRIMARY KEY (article)
);
INSERT INTO catalog VALUES('123','Ведро пластиковое 10 л','шт');
INSERT INTO catalog VALUES('1245','Швабра с отжимом','шт');
INSERT INTO catalog VALUES('007','Губки для посуды, 10 шт. в упаковке','шт');
INSERT INTO catalog VALUES('7715','Средство для мытья посуды 500 мл','шт');
INSERT INTO catalog VALUES('4512','Перчатки хозяйственные резиновые','шт');
INSERT INTO catalog VALUES('555','Щётка для обуви','шт');
INSERT INTO catalog VALUES('10','Мешки для мусора 60 л','шт');
INSERT INTO catalog VALUES('2024','Сушилка для белья напольная','шт');
INSERT INTO catalog VALUES('31337','Набор кухонных ножей','шт');
INSERT INTO catalog VALUES('100','Кастрюля эмалированная 3 л','шт');
INSERT INTO catalog VALUES('101','Сковорода антипригарная 26 см','шт');
INSERT INTO catalog VALUES('202','Чайник со свистком','шт');
INSERT INTO catalog VALUES('303','Доска разделочная бамбуковая','шт');
INSERT INTO catalog VALUES('404','Тёрка четырёхгранная','шт');
INSERT INTO catalog VALUES('505','Контейнер для продуктов 1 л','шт');
INSERT INTO catalog VALUES('606','Прищепки бельевые, 20 шт.','шт');
INSERT INTO catalog VALUES('707','Вешалки для одежды, 5 шт.','шт');
INSERT INTO catalog VALUES('808','Таз пластиковый 15 л','шт');
INSERT INTO catalog VALUES('909','Коврик для ванной','шт');
INSERT INTO catalog VALUES('1111','Стиральный порошок 3 кг','шт');
INSERT INTO catalog VALUES('1212','Мыло хозяйственное','шт');
INSERT INTO catalog VALUES('1313','Салфетки из микрофибры, 3 шт.','шт');
INSERT INTO catalog VALUES('1414','Совок с щёткой','шт');
INSERT INTO catalog VALUES('1515','Гладильная доска','шт');
INSERT INTO catalog VALUES('1616','Утюг паровой','шт');
INSERT INTO catalog VALUES('1717','Лампочка светодиодная E27','шт');
INSERT INTO catalog VALUES('1818','Удлинитель на 3 розетки','шт');
INSERT INTO catalog VALUES('1919','Батарейки AA, 4 шт.','шт');
INSERT INTO catalog VALUES('0042','Фонарик карманный','шт');
INSERT INTO catalog VALUES('8800','Термос 1 л','шт');
CREATE TABLE bot_orders (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	caller VARCHAR(64), 
	called VARCHAR(64), 
	call_time VARCHAR(40), 
	status VARCHAR(64), 
	created_at VARCHAR(40)
);
INSERT INTO bot_orders VALUES(1,'+79607775577','74951234567','2024-05-01T14:03:22+03:00','принят успешно','2026-12-01T20:26:09.037734+00:00');
INSERT INTO bot_orders VALUES(2,'+79607775577','74951234567','2024-05-01T14:03:22+03:00','принят успешно','2026-12-01T20:26:09.041166+00:00');
CREATE TABLE bot_order_items (
	order_id INTEGER NOT NULL, 
	position INTEGER NOT NULL, 
	article VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	quantity INTEGER NOT NULL, 
	PRIMARY KEY (order_id, position), 
	FOREIGN KEY(order_id) REFERENCES bot_orders (id)
);
INSERT INTO bot_order_items VALUES(1,1,'123','Ведро пластиковое 10 л',2);
INSERT INTO bot_order_items VALUES(2,1,'123','Ведро пластиковое 10 л',2);
CREATE TABLE outbox (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	kind VARCHAR(32) NOT NULL, 
	order_id INTEGER, 
	created_at VARCHAR(40) NOT NULL, 
	attempts INTEGER DEFAULT '0' NOT NULL, 
	next_attempt_at VARCHAR(40) NOT NULL, 
	last_error VARCHAR(500), 
	sent_at VARCHAR(40), 
	FOREIGN KEY(order_id) REFERENCES bot_orders (id)
);
INSERT INTO outbox VALUES(1,'order_email',1,'2026-12-01T20:26:09.037734+00:00',0,'2026-12-01T20:26:09.037734+00:00',NULL,'2024-05-01T12:00:00.000000+00:00');
INSERT INTO outbox VALUES(2,'order_email',2,'2026-12-01T20:26:09.041166+00:00',0,'2026-12-01T20:26:09.041166+00:00',NULL,NULL);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('bot_orders',2);
INSERT INTO sqlite_sequence VALUES('outbox',2);
CREATE INDEX ix_outbox_due ON outbox (sent_at, next_attempt_at);
COMMIT;
